import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createHttpApi } from "./api";
import { App } from "./App";
import { adminTokenIn, originStorage, takeTokenFromLink } from "./adminToken";
import { fetchEventSource } from "./events";
import { createAppStore } from "./store/createAppStore";
import "./styles.css";

const adminToken = adminTokenIn(originStorage());
takeTokenFromLink(adminToken, window.location, window.history);
const store = createAppStore({
  api: createHttpApi(adminToken),
  events: fetchEventSource(adminToken.read),
  adminToken,
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App store={store} />
  </StrictMode>,
);
