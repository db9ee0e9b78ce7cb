import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createHttpApi } from "./api";
import { App } from "./App";
import { adminTokenIn, originStorage, takeTokenFromLink } from "./adminToken";
import { fetchEventSource } from "./events";
import { createAppStore, type AppStore } from "./store/createAppStore";
import "./styles.css";

const adminToken = adminTokenIn(originStorage());
takeTokenFromLink(adminToken, window.location, window.history);
const store: AppStore = createAppStore({
  // A /v0 call refused for its token (llmlb started again with another): the page asks for the new one.
  api: createHttpApi(adminToken, () => store.getState().signOut()),
  events: fetchEventSource(adminToken),
  adminToken,
});

// The link pasted into a dashboard already open: only the fragment changed, so the page did not load.
window.addEventListener("hashchange", () => {
  const given = takeTokenFromLink(adminToken, window.location, window.history);
  if (given !== undefined) void store.getState().signIn(given);
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App store={store} />
  </StrictMode>,
);
