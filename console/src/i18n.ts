/**
 * Messages (i18next: every string of the console is in a catalog), the language (the
 * browser's preferred one we have, or the one chosen; the choice is remembered), and
 * dates and numbers in that language's format (Intl).
 */
import i18next from 'i18next';
import { en } from './locales/en.ts';
import { de } from './locales/de.ts';
import { ptBR } from './locales/pt-BR.ts';

/** The shape of the English catalog with every message a string: the other catalogs must have exactly its keys. */
type Shape<T> = { [K in keyof T]: T[K] extends string ? string : Shape<T[K]> };
export type Catalog = Shape<typeof en>;

type Paths<T, Prefix extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${Prefix}${K}` : Paths<T[K], `${Prefix}${K}.`>;
}[keyof T & string];
/** i18next's plural forms (`users_one`, `users_other`) are asked for by their base key and `count`. */
type PluralBase<K extends string> = K extends `${infer Base}_${'zero' | 'one' | 'two' | 'few' | 'many' | 'other'}`
  ? Base
  : K;
export type MessageKey = PluralBase<Paths<typeof en>>;

export const LANGUAGES = [
  { code: 'en', label: 'English' },
  { code: 'pt-BR', label: 'Português (Brasil)' },
  { code: 'de', label: 'Deutsch' },
] as const;
export type Language = (typeof LANGUAGES)[number]['code'];

const CHOSEN = 'console.language';

/** The first of the browser's languages we speak: exactly (pt-BR), else by its primary tag (pt-PT → pt-BR, de-AT → de). */
export const pickLanguage = (preferred: readonly string[]): Language => {
  for (const tag of preferred) {
    const exact = LANGUAGES.find((language) => language.code.toLowerCase() === tag.toLowerCase());
    if (exact) return exact.code;
    const primary = tag.split('-')[0]?.toLowerCase();
    const near = LANGUAGES.find((language) => language.code.split('-')[0]?.toLowerCase() === primary);
    if (near) return near.code;
  }
  return 'en';
};

const initialLanguage = (): Language => {
  const chosen = localStorage.getItem(CHOSEN);
  if (chosen && LANGUAGES.some((language) => language.code === chosen)) return chosen as Language;
  return pickLanguage(navigator.languages.length > 0 ? navigator.languages : [navigator.language]);
};

export const initI18n = async () => {
  await i18next.init({
    lng: initialLanguage(),
    fallbackLng: 'en',
    supportedLngs: LANGUAGES.map((language) => language.code),
    resources: { en: { translation: en }, 'pt-BR': { translation: ptBR }, de: { translation: de } },
    // Preact renders every value as text: escaping here would show &lt; instead of <.
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  document.documentElement.lang = i18next.language;
};

export const language = (): Language => i18next.language as Language;

export const setLanguage = async (code: Language) => {
  localStorage.setItem(CHOSEN, code);
  await i18next.changeLanguage(code);
  document.documentElement.lang = code;
};

export const onLanguageChanged = (listener: () => void) => {
  i18next.on('languageChanged', listener);
  return () => i18next.off('languageChanged', listener);
};

export const t = (key: MessageKey, values?: Record<string, string | number>): string =>
  i18next.t(key, values ?? {}) as string;

export const formatNumber = (value: number): string => new Intl.NumberFormat(language()).format(value);

export const formatDate = (iso: string | null | undefined): string => {
  if (!iso) return t('app.never');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(language(), { dateStyle: 'medium', timeStyle: 'medium' }).format(date);
};
