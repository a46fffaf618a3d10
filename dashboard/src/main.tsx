import { render } from 'preact';
import { App } from './app';
import { applyLang, initialLang, loadLang } from './i18n';

// Load the chosen language before the first paint so nothing flashes in English.
loadLang(initialLang()).then((lang) => {
  applyLang(lang);
  render(<App initial={lang} />, document.getElementById('app')!);
});
