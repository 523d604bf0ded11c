/**
 * What bull-board's page (its `index.ejs`) would load from another host: Google's web fonts, a
 * `<link>` in its head. A dashboard on a machine without internet access would wait for them, and
 * any page that reaches out tells a third party who looks at the queue and when. Without them
 * the page falls back to the system's sans-serif and monospace fonts.
 */
const EXTERNAL_RESOURCE =
  /<(?:link|script)\b[^>]*\b(?:href|src)\s*=\s*["']?(?:[a-z]+:)?\/\/[^>]*>(?:\s*<\/script>)?\n?/gi;

/** The page with every stylesheet, font or script from another host left out. */
export function withoutExternalResources(html: string): string {
  return html.replace(EXTERNAL_RESOURCE, '');
}

type RenderCallback = (error: Error | null, html?: string) => void;
type RenderEngine = (path: string, options: object, callback: RenderCallback) => void;

/** The part of an Express app that renders views. */
export interface ViewRenderingApp {
  engines: Record<string, RenderEngine | undefined>;
  engine(extension: string, render: RenderEngine): unknown;
}

/**
 * Wraps the app's `.ejs` engine (bull-board registers it for its one page) so the page it renders
 * loads nothing from another host. Reading the page from the installed UI each time, rather than
 * keeping a copy, follows bull-board's own file through upgrades.
 */
export function renderBoardOffline(app: ViewRenderingApp): void {
  const render = app.engines['.ejs'];
  if (render === undefined) throw new Error('bull-board registered no .ejs view engine');
  app.engine('ejs', (path, options, callback) =>
    render(path, options, (error, html) =>
      callback(error, html === undefined ? html : withoutExternalResources(html)),
    ),
  );
}
