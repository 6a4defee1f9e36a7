import { useState } from 'preact/hooks';
import { FormProblems, request, type Workspace } from '../api.ts';
import { ErrorMessage, PageTitle, useAction } from '../components.tsx';
import { t } from '../i18n.ts';
import { session } from '../session.ts';

export const SignIn = ({
  message,
  onSignedIn,
}: {
  message: string | undefined;
  onSignedIn: (workspace: Workspace) => void;
}) => {
  const [key, setKey] = useState('');
  const { busy, error, setError, run } = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (trimmed === '') return setError(new FormProblems([t('signIn.empty')]));
    await run(async () => {
      // The key is tried before it is kept: a wrong one is answered here, with the API's message.
      const answer = await request<{ workspace: Workspace }>('GET', '/workspace', undefined, trimmed);
      session.signIn(trimmed);
      onSignedIn(answer.workspace);
    });
  };

  return (
    <section class="narrow">
      <PageTitle title={t('signIn.title')}>{t('signIn.title')}</PageTitle>
      {message && !error && (
        <p class="notice-box" role="alert">
          {message}
        </p>
      )}
      <p>{t('signIn.intro')}</p>
      <form onSubmit={submit} noValidate>
        <label for="rest-key">{t('signIn.key')}</label>
        <input
          id="rest-key"
          name="rest-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(event) => setKey((event.currentTarget as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'sign-in-error' : undefined}
        />
        <button type="submit" disabled={busy}>
          {t('signIn.submit')}
        </button>
      </form>
      {error !== undefined && (
        <div id="sign-in-error">
          <ErrorMessage error={error} />
        </div>
      )}
    </section>
  );
};
