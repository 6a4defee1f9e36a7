/**
 * The REST API key, kept for this tab's session only (sessionStorage: gone when the tab
 * closes, never sent anywhere but the Authorization header; no cookie, no localStorage).
 */
const KEY = 'console.restApiKey';

export const session = {
  key: (): string | undefined => sessionStorage.getItem(KEY) ?? undefined,
  signIn: (key: string) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};
