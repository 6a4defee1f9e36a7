/**
 * Table shapes (keys and global secondary indexes, from a CreateTable input or
 * infra/tables.yml) and what a table write costs each index. Part of the AWS limits model
 * (local/aws-limits.ts, where the [tags] are cited).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AttributeValue, CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Tables } from '../../lib/config.js';
import { TABLE_RESOURCES } from '../resources.js';
import { itemSize, writeUnits, type Item } from './units.js';

export interface IndexShape {
  name: string;
  partitionKey: string;
  sortKey?: string;
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  nonKeyAttributes: readonly string[];
}

export interface TableShape {
  name: string;
  partitionKey: string;
  sortKey?: string;
  indexes: readonly IndexShape[];
}

type KeySchema = CreateTableCommandInput['KeySchema'];
const keyNames = (schema: KeySchema) => ({
  partitionKey: schema?.find((key) => key.KeyType === 'HASH')?.AttributeName ?? '',
  sortKey: schema?.find((key) => key.KeyType === 'RANGE')?.AttributeName,
});

/** A table's shape from a CreateTable input, or from a CloudFormation table's Properties (the same names). */
export const tableShape = (
  name: string,
  definition: Pick<CreateTableCommandInput, 'KeySchema' | 'GlobalSecondaryIndexes'>,
): TableShape => ({
  name,
  ...keyNames(definition.KeySchema),
  indexes: (definition.GlobalSecondaryIndexes ?? []).map((index) => ({
    name: index.IndexName!,
    ...keyNames(index.KeySchema),
    projection: index.Projection?.ProjectionType ?? 'ALL',
    nonKeyAttributes: index.Projection?.NonKeyAttributes ?? [],
  })),
});

/** The deployed tables' shapes, read from infra/tables.yml now (not at import: the file's GSIs change under us). */
export const tableShapes = (tables: Tables): TableShape[] => {
  const file = fileURLToPath(new URL('../../infra/tables.yml', import.meta.url));
  const resources = (
    parse(readFileSync(file, 'utf8')) as { Resources: Record<string, { Properties: CreateTableCommandInput }> }
  ).Resources;
  return (Object.entries(TABLE_RESOURCES) as [keyof Tables, string][]).map(([role, logicalId]) => {
    const properties = resources[logicalId]?.Properties;
    if (!properties) throw new Error(`infra/tables.yml has no ${logicalId}`);
    return tableShape(tables[role], properties);
  });
};

// ---------------------------------------------------------------------------------------
// Index writes
// ---------------------------------------------------------------------------------------

/** A partition key value as text (the trace's and the buckets' key). */
export const keyText = (value: AttributeValue | undefined): string | undefined => {
  if (value?.S !== undefined) return value.S;
  if (value?.N !== undefined) return value.N;
  if (value?.B !== undefined) {
    // The SDK's type says bytes; a base64 string (the wire form) is already text.
    const bytes: Uint8Array | string = value.B;
    return typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('base64');
  }
  return undefined;
};

/** Order-independent text of a value, to tell whether a write changed it. */
export const canonical = (value: unknown): string => {
  if (value instanceof Uint8Array) return `b:${Buffer.from(value).toString('base64')}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((name) => `${JSON.stringify(name)}:${canonical((value as Record<string, unknown>)[name])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
};

export const pick = (item: Item, names: readonly (string | undefined)[]): Item =>
  Object.fromEntries(
    names
      .filter((name): name is string => name !== undefined && item[name] !== undefined)
      .map((name) => [name, item[name]!]),
  );

export const inIndex = (index: IndexShape, item: Item | undefined): item is Item =>
  item !== undefined &&
  item[index.partitionKey] !== undefined &&
  (index.sortKey === undefined || item[index.sortKey] !== undefined);

/** What an index stores of an item: its keys, the table's keys, and what the projection adds. */
const projected = (table: TableShape, index: IndexShape, item: Item): Item =>
  index.projection === 'ALL'
    ? item
    : pick(item, [
        table.partitionKey,
        table.sortKey,
        index.partitionKey,
        index.sortKey,
        ...(index.projection === 'INCLUDE' ? index.nonKeyAttributes : []),
      ]);

export interface IndexWrite {
  index: string;
  /** The index partition the write lands in. */
  partitionKey: string;
  units: number;
  change: 'put' | 'delete' | 'update';
}

/**
 * [gsi] What a table write costs each global secondary index, from the item before and
 * after it: adding an indexed item is one write, removing one is one write, changing an
 * indexed key "from A to B" is two (a delete from the old place, a put in the new), and a
 * change to projected attributes only is one; an item in the index neither before nor after
 * costs nothing. Each write is ⌈projected size / 1 KB⌉ units. Index writes are not doubled
 * by transactions: [tx] doubles the table's item writes, the index is updated afterwards.
 */
export const indexWrites = (table: TableShape, before: Item | undefined, after: Item | undefined): IndexWrite[] =>
  table.indexes.flatMap((index): IndexWrite[] => {
    const was = inIndex(index, before) ? projected(table, index, before!) : undefined;
    const is = inIndex(index, after) ? projected(table, index, after!) : undefined;
    const write = (entry: Item, change: IndexWrite['change']): IndexWrite => ({
      index: index.name,
      partitionKey: keyText(entry[index.partitionKey])!,
      units: writeUnits(itemSize(entry)),
      change,
    });
    if (was && is) {
      const sameKey =
        canonical(pick(was, [index.partitionKey, index.sortKey])) ===
        canonical(pick(is, [index.partitionKey, index.sortKey]));
      if (!sameKey) return [write(was, 'delete'), write(is, 'put')];
      return canonical(was) === canonical(is) ? [] : [write(is, 'update')];
    }
    if (was) return [write(was, 'delete')];
    if (is) return [write(is, 'put')];
    return [];
  });
