import { createRoot } from "react-dom/client";
import { App } from "./App";
import { createAppStore } from "./store";
import "./styles.css";

createRoot(document.getElementById("root")!).render(<App store={createAppStore()} />);
