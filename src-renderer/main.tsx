import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createHttpApi } from "./api";
import { App } from "./App";
import { browserEventSource } from "./events";
import { createAppStore } from "./store/createAppStore";
import "./styles.css";

const store = createAppStore({ api: createHttpApi(), events: browserEventSource });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App store={store} />
  </StrictMode>,
);
