/**
 * How the README's examples are read and matched (test/support/readme-examples.ts): the
 * README test is only as strict as this, so each elision is held to what it may stand for.
 */
import { describe, expect, it } from 'vitest';
import { bashBlocks, mismatches, parseShownAnswer, stepsOf } from '../support/readme-examples.js';

const matches = (shown: string, actual: unknown) => mismatches(parseShownAnswer(shown)!.body, actual);

describe('a shown answer', () => {
  it('reads the status, 200 when none is shown, and ignores the remark after the JSON', () => {
    expect(parseShownAnswer('201 {"message":"success"}   (a remark)')).toMatchObject({
      status: 201,
      text: '201 {"message":"success"}',
    });
    expect(parseShownAnswer('{"a":1}\nWith more users: prose')?.status).toBe(200);
    expect(parseShownAnswer('the receiver prints: [heap receiver] …')).toBeUndefined();
  });

  it('fails loudly on JSON it cannot read, rather than taking it for prose', () => {
    expect(() => parseShownAnswer('201 {"message" "success"}', 7)).toThrow(/line 7: expected ":"/);
  });

  it('holds an object without … to exactly its keys, and lets … stand for others', () => {
    expect(matches('{"a":1,"b":"x"}', { a: 1, b: 'x' })).toEqual([]);
    expect(matches('{"a":1}', { a: 1, b: 'x' })).toEqual(['$.b: not shown (add it, or "…")']);
    expect(matches('{"a":1}', { a: 2 })).toEqual(['$.a: 2, shown 1']);
    expect(matches('{"a":1,…}', { a: 1, b: 'x' })).toEqual([]);
    expect(matches('{…,"a":1}', { b: 'x' })).toEqual(['$.a: missing']);
  });

  it('matches … in a string as anything, and <name> as one path segment', () => {
    expect(matches('{"id":"…"}', { id: 'c757600e' })).toEqual([]);
    expect(matches('{"id":"…"}', { id: null })).toHaveLength(1);
    expect(matches('{"ws":"demo-…"}', { ws: 'other-1' })).toHaveLength(1);
    expect(matches('{"l":"file:///…/exports/<ws>/"}', { l: 'file:///tmp/x/exports/demo-1/' })).toEqual([]);
    expect(matches('{"l":"file:///…/exports/<ws>/"}', { l: 'file:///tmp/x/exports/demo/1/' })).toHaveLength(1);
  });

  it('matches arrays in any order, of the length shown unless … is among them', () => {
    expect(matches('{"u":[{"id":"b"},{"id":"a"}]}', { u: [{ id: 'a' }, { id: 'b' }] })).toEqual([]);
    expect(matches('{"u":[{"id":"a"}]}', { u: [{ id: 'a' }, { id: 'b' }] })).toEqual(['$.u: 2 elements, shown 1']);
    expect(matches('{"u":[{"id":"a"},…]}', { u: [{ id: 'b' }, { id: 'a' }] })).toEqual([]);
    expect(matches('{"u":[{"id":"a"},{"id":"a"}]}', { u: [{ id: 'a' }, { id: 'b' }] })).toHaveLength(1);
    expect(matches('{"e":[…the alias is unknown…]}', { e: [1, 2] })).toEqual([]);
    expect(matches('{"e":[]}', { e: [1] })).toHaveLength(1);
  });

  it('lets {…} stand for any object and a bare … for any value', () => {
    expect(matches('{"f":{…},"v":…}', { f: { all: [] }, v: null })).toEqual([]);
    expect(matches('{"f":{…}}', { f: [] })).toHaveLength(1);
  });
});

describe('the steps of a bash block', () => {
  const markdown = [
    '## Other',
    '```bash',
    'curl -s $URL/elsewhere',
    '```',
    '## API',
    '<!-- readme-test: setup -->',
    '```bash',
    'URL=…',
    '```',
    '',
    '```bash',
    `curl -s -XPOST $URL/a -d '{`,
    '  "x": "# not a comment"}\'',
    '# 201 {"id":"…",',
    '#   "n":1}   (a remark)',
    'ID=…    # id from the answer above',
    'curl -s $URL/b/$ID \\',
    '  -H "x: y"       # a comment',
    'curl -s -XDELETE $URL/b/$ID',
    '# {"message":"success"}',
    '```',
    '## Next',
  ].join('\n');

  it('takes the blocks of its section only, with the marker before each', () => {
    const blocks = bashBlocks(markdown, 'API');
    expect(blocks.map((block) => [block.line, block.marker])).toEqual([
      [7, 'setup'],
      [11, undefined],
    ]);
  });

  it('reads commands over open quotes and continued lines, with the answer under each, and captures', () => {
    // Act
    const steps = stepsOf(bashBlocks(markdown, 'API')[1]!);

    // Assess
    expect(steps).toMatchObject([
      { kind: 'command', line: 12, method: 'POST', answer: { status: 201 } },
      { kind: 'capture', line: 16, name: 'ID', field: 'id' },
      { kind: 'command', line: 17, method: 'GET', command: 'curl -s $URL/b/$ID \\\n  -H "x: y"       # a comment' },
      { kind: 'command', line: 19, method: 'DELETE', answer: { status: 200 } },
    ]);
    expect(steps[0]).toMatchObject({ command: expect.stringContaining('"x": "# not a comment"}\'') });
    expect(steps[2]).not.toHaveProperty('answer.status');
  });

  it('reads a body given as a here-document up to its delimiter, with the answer under it', () => {
    // Prepare
    const text = [
      'curl -s -XPOST $URL/c -d @- <<EOF',
      '{"name": "x",',
      ' "id": "$ID"}',
      'EOF',
      '# 201 {"message":"success"}',
    ];

    // Act
    const steps = stepsOf({ line: 1, text: text.join('\n') });

    // Assess
    expect(steps).toMatchObject([{ kind: 'command', line: 2, method: 'POST', answer: { status: 201 } }]);
    expect(steps[0]).toMatchObject({ command: text.slice(0, 4).join('\n') });
    expect(() => stepsOf({ line: 1, text: text.slice(0, 3).join('\n') })).toThrow(/not closed by EOF/);
  });

  it('refuses a line of a run block that is neither a curl command nor a capture', () => {
    expect(() => stepsOf({ line: 1, text: 'npm run admin -- dlq count' })).toThrow(/line 2: not a curl command/);
  });
});
