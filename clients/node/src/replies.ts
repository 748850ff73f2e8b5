// Reading batond's replies as ioredis hands them over (RESP2: bulk strings as strings,
// integers as numbers, maps as flat [field, value, ...] arrays). These turn a map into a
// record and take typed fields out of it, failing loudly (UnexpectedReply) on a shape they do
// not expect rather than passing a wrong type on.
import { UnexpectedReply } from './errors';

export type Fields = Record<string, unknown>;

function shown(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

export function asFields(reply: unknown): Fields {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) {
    throw new UnexpectedReply(`expected a map, got ${shown(reply)}`);
  }
  const fields: Fields = {};
  for (let i = 0; i < reply.length; i += 2) fields[asText(reply[i])] = reply[i + 1];
  return fields;
}

export function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new UnexpectedReply(`expected a string, got ${shown(value)}`);
}

export function asInt(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new UnexpectedReply(`expected an integer, got ${shown(value)}`);
}

export function asList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  throw new UnexpectedReply(`expected an array, got ${shown(value)}`);
}

export function field(fields: Fields, name: string): unknown {
  if (!(name in fields)) throw new UnexpectedReply(`the reply has no field ${name}: ${shown(fields)}`);
  return fields[name];
}

export const intField = (fields: Fields, name: string): number => asInt(field(fields, name));
export const textField = (fields: Fields, name: string): string => asText(field(fields, name));

/** A 0/1 field; absent counts as 0 (fields like `degraded` came later than others). */
export function flagField(fields: Fields, name: string): boolean {
  const value = fields[name];
  return value === undefined || value === null ? false : asInt(value) === 1;
}

export function optionalText(fields: Fields, name: string): string | null {
  const value = fields[name];
  return value === undefined || value === null ? null : asText(value);
}

export function expectOk(reply: unknown): void {
  if (reply !== 'OK') throw new UnexpectedReply(`expected OK, got ${shown(reply)}`);
}
