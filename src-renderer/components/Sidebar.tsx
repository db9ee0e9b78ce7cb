import type { Route } from "../useHashRoute";
import { IconChat, IconEndpoint, IconModels, IconNodes, IconRequests, IconSettings, LogoMark } from "./icons";

const items: { route: Route; label: string; Icon: typeof IconModels }[] = [
  { route: "models", label: "Models", Icon: IconModels },
  { route: "nodes", label: "Nodes", Icon: IconNodes },
  { route: "requests", label: "Requests", Icon: IconRequests },
  { route: "endpoint", label: "Endpoint", Icon: IconEndpoint },
  { route: "playground", label: "Playground", Icon: IconChat },
  { route: "settings", label: "Settings", Icon: IconSettings },
];

export function Sidebar({ route, version }: { route: Route; version: string | undefined }) {
  return (
    <aside className="sidebar">
      <div className="brand">
        <LogoMark />
        <span className="brand-name">llmlb</span>
      </div>
      <nav aria-label="Main">
        <ul className="nav">
          {items.map(({ route: target, label, Icon }) => (
            <li key={target}>
              <a
                href={`#/${target}`}
                className={`nav-link${route === target ? " is-active" : ""}`}
                aria-current={route === target ? "page" : undefined}
              >
                <Icon size={18} />
                <span>{label}</span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {version && <p className="sidebar-version">v{version}</p>}
    </aside>
  );
}
