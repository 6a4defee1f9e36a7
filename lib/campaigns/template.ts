/**
 * Liquid templating of webhook messages (Braze's templating language is Liquid; liquidjs
 * implements it). A template is checked when a campaign is saved (a parse error is a 400)
 * and rendered per user at send time; a render that fails (a runaway loop, an unknown
 * filter, output over the bound) skips that user with a counted reason: a message is sent
 * fully rendered or not at all, never half-rendered.
 *
 * Variables: `external_id`, `braze_id`, `aliases` (and `user_aliases`, the same list of
 * `{alias_name, alias_label}`), `device_ids`, `custom_attributes.<name>`, `cohort.name`
 * (and `cohort.cohort_id`, `cohort.partner`: the cohort whose event started the entry),
 * `campaign.name`, `campaign.id`, `step.name`, and an API trigger's properties:
 * `api_trigger_properties.<name>` (campaigns) or `canvas_entry_properties.<name>` (Canvases),
 * also in Braze's spelling `{{api_trigger_properties.${name}}}`. A variable that is not there
 * renders empty (`strictVariables` off), as Braze renders a missing attribute. In the webhook
 * URL every output is percent-encoded (compileUrlTemplate; `| raw` opts out).
 */
import { Liquid, type Template } from 'liquidjs';

/** A rendered body this large is refused (the SQS message and most receivers' limits are far above; a template that grows past it is a mistake). */
export const MAX_RENDERED_BYTES = 256 * 1024;
/** Template sources are kept with the campaign (a DynamoDB item is at most 400 KB). */
export const MAX_TEMPLATE_LENGTH = 64 * 1024;
/**
 * DoS bounds of liquidjs (its own `renderLimit`, `memoryLimit`). The memory limit and the output
 * bound stop a runaway template deterministically (a loop over a range of 100 million is refused
 * in milliseconds); the time limit is only a last net, generous, so that a slow or starved
 * machine never turns a sound template into a template error (at 200 ms it did: a 300 KB render
 * ran out of time under load instead of meeting the output bound).
 */
const RENDER_LIMIT_MS = 5_000;
const MEMORY_LIMIT = 1_000_000;

export interface TemplateVariables {
  external_id?: string;
  braze_id: string;
  aliases: { alias_name: string; alias_label: string }[];
  user_aliases: { alias_name: string; alias_label: string }[];
  device_ids: string[];
  custom_attributes: Record<string, unknown>;
  cohort?: { partner: string; cohort_id: string; name: string };
  campaign: { id: string; name: string };
  step?: { name: string };
  /** An API-triggered campaign's `trigger_properties` (the top-level ones under the recipient's). */
  api_trigger_properties?: Record<string, unknown>;
  /** An API-triggered Canvas's `canvas_entry_properties` (an event-triggered Canvas's: its event's properties). */
  canvas_entry_properties?: Record<string, unknown>;
  /** The properties of the custom event or purchase that entered the user (Braze's `event_properties`). */
  event_properties?: Record<string, unknown>;
}

/**
 * Braze names properties as `${name}` inside Liquid (`{{api_trigger_properties.${product}}}`,
 * `{{ canvas_entry_properties.${ order id } }}`); liquidjs knows no such syntax. Inside each
 * `{{ … }}` and `{% … %}` (never in the text around them), `.${name}` becomes `["name"]` and a
 * leading `${name}` becomes `name`.
 */
export const brazeLiquid = (source: string): string => {
  if (!source.includes('${')) return source;
  let out = '';
  let at = 0;
  for (;;) {
    const open = source.slice(at).search(/\{\{|\{%/);
    if (open < 0) return out + source.slice(at);
    const start = at + open;
    const close = source[start + 1] === '{' ? '}}' : '%}';
    // The tag ends at the first close outside a `${…}`.
    let end = start + 2;
    for (; end < source.length; end += 1) {
      if (source.startsWith('${', end)) {
        const shut = source.indexOf('}', end);
        if (shut < 0) break;
        end = shut;
      } else if (source.startsWith(close, end)) break;
    }
    const tag = source.slice(start, end);
    out +=
      source.slice(at, start) +
      tag
        .replace(/\.\$\{\s*([^{}]+?)\s*\}/g, (_, name: string) => `[${JSON.stringify(name)}]`)
        .replace(/\$\{\s*([A-Za-z_][\w-]*)\s*\}/g, '$1');
    at = end;
  }
};

export class TemplateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemplateError';
  }
}

const options = {
  // Never the file system: `{% include %}` and `{% render %}` look only here (empty), so a
  // template cannot read a file of the sender's host.
  templates: {},
  strictFilters: true,
  strictVariables: false,
  // No prototype walks: `{{ custom_attributes.constructor }}` is empty, not a function.
  ownPropertyOnly: true,
  parseLimit: MAX_TEMPLATE_LENGTH,
  renderLimit: RENDER_LIMIT_MS,
  memoryLimit: MEMORY_LIMIT,
  cache: false,
} as const;

/** Text of an output as Liquid prints it: nothing for a missing value, an array's items joined. */
const printed = (value: unknown): string =>
  value === undefined || value === null ? '' : Array.isArray(value) ? value.map(printed).join('') : String(value);

/**
 * Braze's URL filters (`url_param_escape`: a query value or path segment; `url_escape`: a whole
 * URL, its `:/?#&=` kept). Raw: in a URL template their output is not escaped a second time.
 */
const withBrazeUrlFilters = (liquid: Liquid): Liquid => {
  liquid.registerFilter('url_param_escape', {
    handler: (value: unknown) => encodeURIComponent(printed(value)),
    raw: true,
  });
  liquid.registerFilter('url_escape', { handler: (value: unknown) => encodeURI(printed(value)), raw: true });
  return liquid;
};

const engine = withBrazeUrlFilters(new Liquid(options));

/**
 * The webhook URL's engine: every output is percent-encoded as a URL component, so a value
 * (an external id `../admin?x=1`, a name with `#` or a space) stays inside the path segment or
 * query value it is written in and cannot change the request's path, query or host. `| raw`
 * prints a value as it is (an attribute that holds a whole URL); Liquid's own `url_encode` and
 * Braze's `url_param_escape` and `url_escape` are not escaped twice.
 */
const urlEngine = withBrazeUrlFilters(
  new Liquid({ ...options, outputEscape: (value: unknown) => encodeURIComponent(printed(value)) }),
);
urlEngine.registerFilter('url_encode', {
  handler: (value: unknown) => encodeURIComponent(printed(value)).replace(/%20/g, '+'),
  raw: true,
});

/** Parses a template; a syntax error (or an unknown filter) is a TemplateError naming the problem. */
export const parseTemplate = (source: string, liquid: Liquid = engine): Template[] => {
  if (source.length > MAX_TEMPLATE_LENGTH)
    throw new TemplateError(`template longer than ${MAX_TEMPLATE_LENGTH} characters`);
  try {
    return liquid.parse(brazeLiquid(source));
  } catch (error: unknown) {
    throw new TemplateError(error instanceof Error ? error.message.split('\n')[0]! : String(error), { cause: error });
  }
};

/** Renders a parsed template, whole or not at all. */
export const renderParsed = async (
  templates: Template[],
  variables: TemplateVariables,
  liquid: Liquid = engine,
): Promise<string> => {
  let output: unknown;
  try {
    output = await liquid.render(templates, variables as unknown as Record<string, unknown>);
  } catch (error: unknown) {
    throw new TemplateError(error instanceof Error ? error.message.split('\n')[0]! : String(error), { cause: error });
  }
  const text = String(output);
  if (Buffer.byteLength(text) > MAX_RENDERED_BYTES)
    throw new TemplateError(`rendered output over ${MAX_RENDERED_BYTES} bytes`);
  return text;
};

/** Parses and renders: the per-user path keeps parsed templates instead (see compileTemplate). */
export const renderTemplate = (source: string, variables: TemplateVariables): Promise<string> =>
  renderParsed(parseTemplate(source), variables);

/** A template parsed once and rendered per user. */
export const compileTemplate = (source: string): ((variables: TemplateVariables) => Promise<string>) => {
  const parsed = parseTemplate(source);
  return (variables) => renderParsed(parsed, variables);
};

/** A webhook URL's template, parsed once and rendered per user, each output percent-encoded (urlEngine). */
export const compileUrlTemplate = (source: string): ((variables: TemplateVariables) => Promise<string>) => {
  const parsed = parseTemplate(source, urlEngine);
  return (variables) => renderParsed(parsed, variables, urlEngine);
};
