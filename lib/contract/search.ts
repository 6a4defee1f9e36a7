/**
 * How long a list search may be, counted as its user typed it: the API's rule (lib/paging.ts)
 * and the console's (its search boxes say so before asking), from one place. Imports nothing,
 * so the browser bundle can use it.
 */
/** A search's text, at most (characters). */
export const SEARCH_MAX_CHARACTERS = 200;

/**
 * The characters a search holds as its user typed it: code points, as sent or composed (NFC),
 * whichever is fewer. "é" typed on a keyboard that sends "e" and a combining accent (NFD, as
 * macOS input often does) is one character, as it is sent precomposed; a character that NFC
 * itself takes apart (U+FB2C, U+0958: composition exclusions) still counts as one. Neither
 * form shortens anything else: an "e" under 300 stacked accents is 301 characters either way.
 * The search's folding (NFKD, accents dropped) comes after and changes no count.
 */
export const searchLength = (search: string): number =>
  Math.min([...search].length, [...search.normalize('NFC')].length);
