import { useEffect, useRef } from "react";
import { Announcer } from "./components/Announcer";
import { Banners } from "./components/Banners";
import { IconAlert, IconSpinner } from "./components/icons";
import { Sidebar } from "./components/Sidebar";
import { ConnectionNotice, StatusBar } from "./components/StatusBar";
import { EndpointPage } from "./pages/EndpointPage";
import { ModelsPage } from "./pages/ModelsPage";
import { NodesPage } from "./pages/NodesPage";
import { PlaygroundPage } from "./pages/PlaygroundPage";
import { RequestsPage } from "./pages/RequestsPage";
import { SettingsPage } from "./pages/SettingsPage";
import type { AppStore } from "./store/createAppStore";
import { StoreContext, useActions, useAppStore } from "./useAppStore";
import { useHashRoute, type Route } from "./useHashRoute";
import { PageHead } from "./components/PageHead";
import { SignInForm } from "./components/SignInForm";

const titles: Record<Route, string> = {
  models: "Models",
  nodes: "Nodes",
  requests: "Requests",
  endpoint: "Endpoint",
  playground: "Playground",
  settings: "Settings",
};

/** The dashboard. `store` is created by the caller: main.tsx with the real API, tests with fakes. */
export function App({ store }: { store: AppStore }) {
  useEffect(() => store.getState().start(), [store]);
  return (
    <StoreContext.Provider value={store}>
      <Shell />
    </StoreContext.Provider>
  );
}

function Shell() {
  const route = useHashRoute();
  const version = useAppStore((s) => s.status?.version);
  const stale = useAppStore((s) => s.snapshot === "ready" && s.connection === "down");
  const main = useRef<HTMLElement>(null);
  const head = useRef<HTMLDivElement>(null);
  const first = useRef(true);

  // The sticky header grows with its banners (to half the window at 200% zoom). The page scrolls a
  // focused field clear of it: its height is the document's scroll-padding-top (styles.css).
  useEffect(() => {
    const element = head.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const root = document.documentElement;
    const observer = new ResizeObserver(() => {
      root.style.setProperty("--head-height", `${element.getBoundingClientRect().height}px`);
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      root.style.removeProperty("--head-height");
    };
  }, []);

  useEffect(() => {
    document.title = `${titles[route]} · llmlb`;
    // After navigating, start reading (and tabbing) at the new page's heading.
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }, [route]);

  return (
    <div className="app" data-stale={stale ? "true" : "false"}>
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          // A plain #main would replace the route in the hash.
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <Announcer />
      <Sidebar route={route} version={version} />
      <div className="workspace">
        {/* Banners stay in view with the header, wherever the page is scrolled to. */}
        <div ref={head} className="workspace-head">
          <StatusBar />
          <ConnectionNotice />
          <Banners />
        </div>
        <main id="main" ref={main} className="content" tabIndex={-1}>
          <Page route={route} />
        </main>
      </div>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  const snapshot = useAppStore((s) => s.snapshot);
  const signedOut = useAppStore((s) => s.signedOut);
  // Every page needs the admin token, Settings too: without it, how to give it.
  if (signedOut) return <SnapshotState title={titles[route]} />;
  if (route === "settings") return <SettingsPage />;
  if (snapshot !== "ready") return <SnapshotState title={titles[route]} />;
  if (route === "nodes") return <NodesPage />;
  if (route === "requests") return <RequestsPage />;
  if (route === "endpoint") return <EndpointPage />;
  if (route === "playground") return <PlaygroundPage />;
  return <ModelsPage />;
}

/** Before the first snapshot: connecting, or why it failed and a way to try again. */
function SnapshotState({ title }: { title: string }) {
  const snapshot = useAppStore((s) => s.snapshot);
  const error = useAppStore((s) => s.loadError);
  const signedOut = useAppStore((s) => s.signedOut);
  const tokenRefused = useAppStore((s) => s.tokenRefused);
  const { loadSnapshot } = useActions();
  return (
    <div className="page">
      <PageHead title={title} />
      {/* Signed out, the form stays while a pasted token is tried, and says if it is refused. */}
      {signedOut ? (
        <div className="card empty">
          <div role="alert">
            <IconAlert size={24} className="danger" />
            {tokenRefused ? (
              <>
                <p className="empty-title">llmlb no longer accepts the saved token</p>
                <p>
                  It was likely started again with another admin token. Open the dashboard link it printed (
                  <code>llmlb dashboard</code> prints it again) or its tray menu's Open dashboard; or paste
                  the new token: the data directory's <code>admin-token</code> file holds it, unless
                  LLMLB_ADMIN_TOKEN set it.
                </p>
              </>
            ) : (
              <>
                <p className="empty-title">Open the dashboard with its link</p>
                <p>
                  This page needs the admin token, which the link <code>llmlb serve</code> printed when it
                  started carries (it ends in <code>#token=…</code>; <code>llmlb dashboard</code> prints it
                  again); the desktop app's window and tray menu open it for you. Or paste the token: the data
                  directory's <code>admin-token</code> file holds it, unless LLMLB_ADMIN_TOKEN set it.
                </p>
              </>
            )}
          </div>
          <SignInForm />
        </div>
      ) : snapshot === "failed" ? (
        <div className="card empty" role="alert">
          <IconAlert size={24} className="danger" />
          <p className="empty-title">Can't load the dashboard</p>
          <p>{error}</p>
          <p className="hint">
            If you opened this page by hand, open the link <code>llmlb serve</code> printed instead (it ends
            in <code>#token=…</code>).
          </p>
          <button type="button" className="button button-primary" onClick={() => void loadSnapshot()}>
            Try again
          </button>
        </div>
      ) : (
        <p className="loading muted">
          <IconSpinner /> Connecting to llmlb…
        </p>
      )}
    </div>
  );
}
