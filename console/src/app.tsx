/** The shell: header with the workspace, navigation, language and sign-out; the page the hash names. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, setUnauthorizedHandler, type Workspace } from './api.ts';
import { LANGUAGES, language, onLanguageChanged, setLanguage, t, type Language } from './i18n.ts';
import { href, navigate, useRoute, type Route } from './router.ts';
import { session } from './session.ts';
import { SignIn } from './pages/sign-in.tsx';
import { PartnerPage, PartnersPage } from './pages/partners.tsx';
import { CohortPage, CohortsPage } from './pages/cohorts.tsx';
import { SegmentsPage } from './pages/segments.tsx';
import { SegmentEditor } from './pages/segment-editor.tsx';
import { SegmentPage } from './pages/segment.tsx';
import { ConnectorPage, CurrentsPage } from './pages/currents.tsx';
import { CampaignEditor, CampaignPage, CampaignsPage } from './pages/campaigns.tsx';
import { PageTitle } from './components.tsx';

const NAV = [
  { section: 'partners', key: 'nav.partners' },
  { section: 'cohorts', key: 'nav.cohorts' },
  { section: 'segments', key: 'nav.segments' },
  { section: 'campaigns', key: 'nav.campaigns' },
  { section: 'currents', key: 'nav.currents' },
] as const;

const sectionOf = (route: Route): string =>
  route.page.startsWith('partner')
    ? 'partners'
    : route.page.startsWith('cohort')
      ? 'cohorts'
      : route.page.startsWith('segment')
        ? 'segments'
        : route.page.startsWith('campaign')
          ? 'campaigns'
          : route.page === 'currents' || route.page === 'connector'
            ? 'currents'
            : '';

const Page = ({ route }: { route: Route }) => {
  switch (route.page) {
    case 'partners':
      return <PartnersPage />;
    case 'partner':
      return <PartnerPage partner={route.partner} />;
    case 'cohorts':
      return <CohortsPage />;
    case 'cohort':
      return <CohortPage partner={route.partner} cohortId={route.cohortId} />;
    case 'segments':
      return <SegmentsPage />;
    case 'segment-new':
      return <SegmentEditor />;
    case 'segment-edit':
      return <SegmentEditor segmentId={route.segmentId} />;
    case 'segment':
      return <SegmentPage segmentId={route.segmentId} />;
    case 'campaigns':
      return <CampaignsPage />;
    case 'campaign-new':
      return <CampaignEditor kind={route.kind} segmentId={route.segmentId} />;
    case 'campaign':
      return <CampaignPage kind={route.kind} id={route.campaignId} />;
    case 'currents':
      return <CurrentsPage />;
    case 'connector':
      return <ConnectorPage connectorId={route.connectorId} />;
    default:
      return (
        <>
          <PageTitle title={t('app.notFoundTitle')}>{t('app.notFoundTitle')}</PageTitle>
          <p>{t('app.notFoundBody')}</p>
          <p>
            <a href={href('partners')}>{t('app.toStart')}</a>
          </p>
        </>
      );
  }
};

const LanguageSwitch = () => (
  <div class="language">
    <label for="language">{t('app.language')}</label>
    <select
      id="language"
      value={language()}
      onChange={(event) => void setLanguage((event.currentTarget as HTMLSelectElement).value as Language)}
    >
      {LANGUAGES.map((option) => (
        <option key={option.code} value={option.code} lang={option.code}>
          {option.label}
        </option>
      ))}
    </select>
  </div>
);

export const App = () => {
  const route = useRoute();
  const [, setRenders] = useState(0);
  const [signInMessage, setSignInMessage] = useState<string>();
  const [workspace, setWorkspace] = useState<Workspace>();
  // Where a refused key was (a revoked key mid-page): signed in again, the user is taken back there.
  const returnTo = useRef<string | undefined>(undefined);
  const key = session.key();

  useEffect(() => onLanguageChanged(() => setRenders((count) => count + 1)), []);
  useEffect(
    () =>
      setUnauthorizedHandler((message) => {
        // A key the API no longer takes (revoked, rotated out): back to sign-in, saying why.
        session.signOut();
        setWorkspace(undefined);
        if (!location.hash.startsWith('#/sign-in')) returnTo.current = location.hash;
        setSignInMessage(t('signIn.refused', { message }));
        navigate('#/sign-in');
      }),
    [],
  );
  useEffect(() => {
    if (!key || workspace) return;
    request<{ workspace: Workspace }>('GET', '/workspace')
      .then((answer) => setWorkspace(answer.workspace))
      .catch(() => undefined);
  }, [key, workspace]);

  const signedIn = key !== undefined && route.page !== 'sign-in';
  const signOut = () => {
    session.signOut();
    setWorkspace(undefined);
    setSignInMessage(t('signIn.signedOut'));
    navigate('#/sign-in');
  };
  const current = sectionOf(route);

  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        {t('app.skip')}
      </button>
      <header class="top">
        <div class="brand">
          <span class="product">{t('app.title')}</span>
          {signedIn && workspace && <span class="workspace">{t('app.workspace', { name: workspace.name })}</span>}
        </div>
        {signedIn && (
          <nav aria-label={t('app.mainNav')}>
            <ul>
              {NAV.map((item) => (
                <li key={item.section}>
                  <a href={href(item.section)} aria-current={current === item.section ? 'page' : undefined}>
                    {t(item.key)}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <div class="tools">
          <LanguageSwitch />
          {signedIn && (
            <button type="button" class="secondary" onClick={signOut}>
              {t('app.signOut')}
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {signedIn ? (
          <Page route={route} />
        ) : (
          <SignIn
            message={signInMessage}
            onSignedIn={(signedInWorkspace) => {
              setWorkspace(signedInWorkspace);
              setSignInMessage(undefined);
              navigate(route.page === 'sign-in' ? (returnTo.current ?? href('partners')) : location.hash);
              returnTo.current = undefined;
            }}
          />
        )}
      </main>
    </>
  );
};
