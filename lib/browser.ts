// The browser entry (package.json exports "browser" -> dist/browser.js): lib/index.ts with
// backend-browser.ts in place of backend.ts (tsup.config.ts swaps the module), so the bundle has
// no Node built-ins.
export * from './index.js';
