import { describe, expect, it } from 'vitest';
import {
  compileTemplate,
  compileUrlTemplate,
  MAX_RENDERED_BYTES,
  parseTemplate,
  renderTemplate,
  TemplateError,
  type TemplateVariables,
} from '../../lib/campaigns/template.js';

const variables = (overrides: Partial<TemplateVariables> = {}): TemplateVariables => ({
  external_id: 'user-1',
  braze_id: '639a35d192b0df004d06514c',
  aliases: [{ alias_name: 'one@example.com', alias_label: 'email' }],
  user_aliases: [{ alias_name: 'one@example.com', alias_label: 'email' }],
  device_ids: [],
  custom_attributes: { plan: 'pro', first_name: 'Ada' },
  cohort: { partner: 'heap', cohort_id: 'c1', name: 'Abandoned checkout' },
  campaign: { id: 'cmp1', name: 'Win back' },
  step: { name: 'Day 1' },
  ...overrides,
});

describe('webhook templates (Liquid)', () => {
  it('renders the user, the cohort, the campaign and the step', async () => {
    // Prepare
    const source =
      '{"to":"{{ external_id }}","id":"{{ braze_id }}","email":"{{ aliases[0].alias_name }}","hi":"{{ custom_attributes.first_name | upcase }}","why":"{{ cohort.name }}","c":"{{ campaign.name }}/{{ step.name }}"}';

    // Act
    const body = await renderTemplate(source, variables());

    // Assess
    expect(JSON.parse(body)).toEqual({
      to: 'user-1',
      id: '639a35d192b0df004d06514c',
      email: 'one@example.com',
      hi: 'ADA',
      why: 'Abandoned checkout',
      c: 'Win back/Day 1',
    });
  });

  it('renders a missing variable empty, as Braze does', async () => {
    // Act
    const body = await renderTemplate(
      '[{{ custom_attributes.nope }}][{{ external_id }}]',
      variables({ external_id: undefined }),
    );

    // Assess
    expect(body).toBe('[][]');
  });

  it('refuses a template that does not parse, or names an unknown filter, when it is saved', () => {
    // Act + Assess
    expect(() => parseTemplate('{% if %}')).toThrow(TemplateError);
    expect(() => parseTemplate('{{ external_id | no_such_filter }}')).toThrow(TemplateError);
  });

  it('never reads a file: include and render find nothing', async () => {
    // Act + Assess
    await expect(renderTemplate("{% include '/etc/passwd' %}", variables())).rejects.toThrow(TemplateError);
    await expect(renderTemplate("{% render 'package.json' %}", variables())).rejects.toThrow(TemplateError);
  });

  it('does not walk prototypes', async () => {
    // Act
    const body = await renderTemplate('[{{ custom_attributes.constructor }}][{{ braze_id.length }}]', variables());

    // Assess: own properties only (length of a string is a Liquid size, not a prototype walk)
    expect(body.startsWith('[]')).toBe(true);
  });

  it('fails a render whose output passes the bound instead of sending part of it', async () => {
    // Prepare: 300 KiB of output
    const render = compileTemplate('{% for i in (1..3000) %}{{ custom_attributes.pad }}{% endfor %}');

    // Act + Assess
    await expect(render(variables({ custom_attributes: { pad: 'x'.repeat(100) } }))).rejects.toThrow(
      `over ${MAX_RENDERED_BYTES} bytes`,
    );
  });

  it('stops a runaway render by its memory, not by the clock', async () => {
    // Prepare
    const render = compileTemplate('{% for i in (1..100000000) %}{{ i }}{% endfor %}');

    // Act + Assess: refused for what it would allocate, whatever the machine's speed.
    await expect(render(variables())).rejects.toThrow(/memory alloc limit exceeded/);
  });
});

describe('webhook URL templates', () => {
  const hostile = variables({
    external_id: '../admin?role=owner#x',
    custom_attributes: { home: 'https://hooks.example.com/base', city: 'São Paulo & more', tags: ['a b', 'c'] },
  });

  it('encodes every output as a URL component: a value cannot leave its path segment or query value', async () => {
    // Prepare
    const url = compileUrlTemplate('https://hooks.example.com/users/{{external_id}}?city={{custom_attributes.city}}');

    // Act
    const rendered = await url(hostile);

    // Assess
    expect(rendered).toBe(
      'https://hooks.example.com/users/..%2Fadmin%3Frole%3Downer%23x?city=S%C3%A3o%20Paulo%20%26%20more',
    );
    expect(new URL(rendered).pathname).toBe('/users/..%2Fadmin%3Frole%3Downer%23x');
    expect(new URL(rendered).searchParams.get('city')).toBe('São Paulo & more');
  });

  it('prints a value as it is with | raw, and does not encode twice after a URL filter', async () => {
    // Prepare
    const url = compileUrlTemplate(
      '{{custom_attributes.home | raw}}/{{external_id | url_param_escape}}?c={{custom_attributes.city | url_encode}}&u={{custom_attributes.home | url_escape}}',
    );

    // Act
    const rendered = await url(hostile);

    // Assess
    expect(rendered).toBe(
      'https://hooks.example.com/base/..%2Fadmin%3Frole%3Downer%23x?c=S%C3%A3o+Paulo+%26+more&u=https://hooks.example.com/base',
    );
  });

  it('renders a missing value empty and an array joined, as in the body', async () => {
    // Act
    const rendered = await compileUrlTemplate(
      'https://h.example/{{custom_attributes.none}}/{{custom_attributes.tags}}',
    )(hostile);

    // Assess
    expect(rendered).toBe('https://h.example//a%20bc');
  });

  it("leaves the body's outputs as they are, and knows Braze's URL filters there too", async () => {
    // Act
    const body = await renderTemplate('{"id":"{{external_id}}","q":"{{external_id | url_param_escape}}"}', hostile);

    // Assess
    expect(JSON.parse(body)).toEqual({ id: '../admin?role=owner#x', q: '..%2Fadmin%3Frole%3Downer%23x' });
  });
});
