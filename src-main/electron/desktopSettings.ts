import os from "node:os";
import path from "node:path";
import { app, safeStorage } from "electron";
import { dataFiles } from "../core/dataDir";
import type { Logger } from "../shared/logger";
import { plainHfTokenStore, type SecretStore } from "../core/settings/secretStore";
import type { LoginItem } from "../core/settings/settingsService";
import { chooseHfTokenStore, createEncryptedFileSecretStore } from "./encryptedSecretStore";
import {
  chromiumArgsToKeep,
  createElectronLoginItem,
  createLaunchAgentLoginItem,
  launchAgentFile,
  createXdgAutostartLoginItem,
  loginItemKind,
  xdgAutostartFile,
} from "./loginItems";

/**
 * The Hugging Face token on the desktop: encrypted by the OS (safeStorage) in `<dataDir>/hf-token.enc`,
 * or, where the OS has no keychain to offer, the same 0600 file as headless mode. Call after ready.
 */
export async function createDesktopHfTokenStore(dataDir: string, log: Logger): Promise<SecretStore> {
  const plainFile = path.join(dataDir, dataFiles.hfToken);
  const choice = chooseHfTokenStore({
    platform: process.platform,
    encryptionAvailable: await safeStorage.isAsyncEncryptionAvailable(),
    linuxBackend: process.platform === "linux" ? safeStorage.getSelectedStorageBackend() : undefined,
  });
  if (choice.kind === "file") {
    log.warn({ reason: choice.reason }, `the Hugging Face token is kept in a 0600 file: ${choice.reason}`);
    return plainHfTokenStore(dataDir, log);
  }
  return createEncryptedFileSecretStore({
    file: path.join(dataDir, dataFiles.hfTokenEncrypted),
    cipher: safeStorage,
    plainFile,
    onUnreadable: (error) =>
      log.warn({ err: error }, "the saved Hugging Face token cannot be decrypted; set it again in Settings"),
    onReencryptFailed: (error) =>
      log.warn({ err: error }, "the Hugging Face token could not be encrypted under the keychain's new key"),
  });
}

/** Start at login, where this copy of the app can do it (a packaged app); undefined otherwise. */
export function createDesktopLoginItem(): LoginItem | undefined {
  switch (loginItemKind(process.platform, app.isPackaged)) {
    case "electron":
      return createElectronLoginItem(app);
    case "launch-agent":
      return createLaunchAgentLoginItem({
        file: launchAgentFile(os.homedir()),
        executable: process.execPath,
        legacy: app,
      });
    case "xdg-autostart":
      return createXdgAutostartLoginItem({
        file: xdgAutostartFile(process.env, os.homedir()),
        // An AppImage runs from a temporary mount: start the image itself.
        executable: process.env.APPIMAGE ?? process.execPath,
        chromiumArgs: chromiumArgsToKeep(process.argv),
      });
    case "none":
      return undefined;
  }
}
