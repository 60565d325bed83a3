// How an error message quotes a value the user gave (an argument, a field of
// a schedule file): one line, at most `max` characters of it, and its length.
/** a value as an error message quotes it: one line, not too long */
export const clip = (v: string, max = 60): string => {
  const one = v.replace(/[\x00-\x1f\x7f]/g, '?');
  return one.length > max ? `${one.slice(0, max)}... (${v.length} characters)` : one;
};
