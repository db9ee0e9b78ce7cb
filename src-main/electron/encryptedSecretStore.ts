import fs from "node:fs";
import { writePrivateFile } from "../shared/privateFile";
import { createFileSecretStore, type SecretStore } from "../core/settings/secretStore";

/** Electron's safeStorage (its asynchronous API) as far as the store needs it; tests pass a fake one. */
export interface StringCipher {
  encryptStringAsync(plainText: string): Promise<Buffer>;
  /** `shouldReEncrypt`: the key was rotated, or a better one is there; encrypt the secret again. */
  decryptStringAsync(encrypted: Buffer): Promise<{ result: string; shouldReEncrypt: boolean }>;
}

export interface EncryptedFileSecretStoreOptions {
  /** Where the encrypted secret is kept, base64, mode 0600 (`<dataDir>/hf-token.enc`). */
  file: string;
  cipher: StringCipher;
  /**
   * The plain 0600 file headless mode (or this app without a keyring) keeps (`<dataDir>/hf-token`). Such a
   * store removes the encrypted copy when it saves or forgets, and a save here removes the plain file, so
   * a plain file beside the encrypted one is the newer: it is taken over (encrypted, then removed), so a
   * token set under `llmlb serve` is the one used. Default: none.
   */
  plainFile?: string;
  /** Told when the kept secret cannot be decrypted (another user, a reset keychain). Default: nothing. */
  onUnreadable?: (error: unknown) => void;
  /** Told when a secret whose key changed could not be encrypted again (it stays as it was). Default: nothing. */
  onReencryptFailed?: (error: unknown) => void;
}

/** A secret encrypted by the operating system (Keychain, DPAPI, libsecret/kwallet) in a file. */
export function createEncryptedFileSecretStore(options: EncryptedFileSecretStoreOptions): SecretStore {
  const { file, cipher } = options;
  const plain = options.plainFile ? createFileSecretStore(options.plainFile) : undefined;
  async function keep(value: string): Promise<void> {
    const encrypted = await cipher.encryptStringAsync(value);
    writePrivateFile(file, `${encrypted.toString("base64")}\n`);
  }
  return {
    storage: "keychain",
    async read() {
      const newer = await plain?.read();
      if (newer !== undefined) {
        // Kept encrypted from now on; if the keychain cannot do it now, the plain file stays, and is used.
        try {
          await keep(newer);
          await plain!.write(undefined);
        } catch (error) {
          options.onReencryptFailed?.(error);
        }
        return newer;
      }
      let encoded: string;
      try {
        encoded = fs.readFileSync(file, "utf8").trim();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
      if (!encoded) return undefined;
      let decrypted: { result: string; shouldReEncrypt: boolean };
      try {
        decrypted = await cipher.decryptStringAsync(Buffer.from(encoded, "base64"));
      } catch (error) {
        // Unreadable is as good as unset: the user sets the token again from Settings.
        options.onUnreadable?.(error);
        return undefined;
      }
      if (decrypted.shouldReEncrypt && decrypted.result) {
        // The token read fine; keeping it under the new key can wait for the next start if it fails.
        await keep(decrypted.result).catch((error: unknown) => options.onReencryptFailed?.(error));
      }
      return decrypted.result || undefined;
    },
    async write(value) {
      if (value === undefined) fs.rmSync(file, { force: true });
      else await keep(value);
      await plain?.write(undefined);
    },
  };
}

export type HfTokenStoreChoice = { kind: "keychain" } | { kind: "file"; reason: string };

export interface HfTokenStoreFacts {
  platform: NodeJS.Platform;
  /** safeStorage.isAsyncEncryptionAvailable() */
  encryptionAvailable: boolean;
  /** safeStorage.getSelectedStorageBackend() on Linux. */
  linuxBackend?: string;
}

/**
 * The OS-encrypted store where the OS has a real one, else the plain 0600 file (and why). On Linux
 * without a keyring Chromium's `basic_text` backend encrypts with a key built into every copy of
 * Chromium: no better than the file, and it must not be shown as "keychain".
 */
export function chooseHfTokenStore(facts: HfTokenStoreFacts): HfTokenStoreChoice {
  if (!facts.encryptionAvailable)
    return { kind: "file", reason: "the operating system's encryption (safeStorage) is not available" };
  if (facts.platform === "linux" && (facts.linuxBackend === "basic_text" || facts.linuxBackend === "unknown"))
    return {
      kind: "file",
      reason: `no keyring was found (safeStorage backend: ${facts.linuxBackend}); install gnome-keyring or kwallet`,
    };
  return { kind: "keychain" };
}
