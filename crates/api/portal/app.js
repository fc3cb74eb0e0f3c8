// Warden portal: plain JavaScript modules, no framework, no build step, no external asset. This entry
// wires the login forms, registers the pages and starts the hash router.
import { hooks } from './api.js';
import { route } from './router.js';
import { setup, sessionEnded } from './auth.js';
import './dashboard.js';
import './sims.js';
import './security.js';
import './jobs.js';
import './approvals.js';
import './rules.js';
import './access.js';
import './audit.js';
import './operator.js';
import './sessions.js';
import './oidc.js';
import './passkey.js';
import './account.js';

hooks.unauthorized = () => {
  if (location.hash !== '#/login') sessionEnded();
};

setup();
window.addEventListener('hashchange', route);
route();
