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
