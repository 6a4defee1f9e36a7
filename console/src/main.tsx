import { render } from 'preact';
import { App } from './app.tsx';
import { initI18n } from './i18n.ts';
import './styles.css';

await initI18n();
render(<App />, document.getElementById('app')!);
