// One way to describe a shared struct: an ordered list of named fields, each
// one or more 32-bit words (or 64-bit floats for a f64 struct). Offsets are
// derived here and nowhere else; the rest of the code reads `PAGE.flags`,
// never a bare number.

export type FieldSpec = Record<string, number>; // field name -> number of words

export interface StructDef<F extends FieldSpec> {
  readonly name: string;
  /** words (i32 structs) or doubles (f64 structs) per record, padded as asked */
  readonly stride: number;
  readonly elem: 'i32' | 'f64';
  readonly fields: readonly (keyof F & string)[];
}

export type Struct<F extends FieldSpec> = StructDef<F> & { readonly [K in keyof F]: number };

/**
 * Define a struct. `padTo` rounds the stride up so that records never share a
 * 64-byte cache line (16 words / 8 doubles) when that matters for per-CPU data.
 */
export function defineStruct<const F extends FieldSpec>(
  name: string,
  fields: F,
  opts: { kind?: 'i32' | 'f64'; padTo?: number } = {},
): Struct<F> {
  const out: Record<string, unknown> = {};
  let off = 0;
  for (const [k, n] of Object.entries(fields)) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`struct ${name}: field ${k} has bad width ${n}`);
    out[k] = off;
    off += n;
  }
  const pad = opts.padTo ?? 1;
  const stride = Math.ceil(off / pad) * pad;
  return Object.freeze({
    ...out,
    name,
    stride,
    elem: opts.kind ?? 'i32',
    fields: Object.keys(fields),
  }) as Struct<F>;
}

/** one entry of an enum table: the constant it defines (`key`) and the name it prints as */
export interface EnumEntry { readonly key: string; readonly name: string }

export interface EnumDef<E extends readonly EnumEntry[]> {
  /** the entries; an entry's code is its index */
  readonly table: E;
  /** key -> code, for `export const { EV_FAULT, ... } = X.codes` (a key not in the table does not compile) */
  readonly codes: { readonly [K in E[number]['key']]: number };
  readonly names: readonly string[];
}

/**
 * Define an enum once: codes are the table's indices, and each code has one
 * key and one name. A repeated key or name throws at module load.
 */
export function defineEnum<const E extends readonly EnumEntry[]>(what: string, table: E): EnumDef<E> {
  const codes: Record<string, number> = {};
  const names = new Map<string, number>();
  table.forEach((e, code) => {
    if (e.key in codes) throw new Error(`enum ${what}: ${e.key} is defined twice (codes ${codes[e.key]} and ${code})`);
    if (names.has(e.name)) throw new Error(`enum ${what}: the name '${e.name}' is given to codes ${names.get(e.name)} and ${code}`);
    codes[e.key] = code;
    names.set(e.name, code);
  });
  return Object.freeze({ table, codes: Object.freeze(codes) as EnumDef<E>['codes'], names: Object.freeze(table.map((e) => e.name)) });
}
