import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  chooseHfTokenStore,
  createEncryptedFileSecretStore,
  type StringCipher,
} from "../../../src-main/electron/encryptedSecretStore";
import { plainHfTokenStore } from "../../../src-main/core/settings/secretStore";
import { tempDirForEachTest } from "../../helpers/tempDir";

/** Stands in for safeStorage: reversible, and visibly not the plain text. */
const fakeCipher: StringCipher = {
  encryptStringAsync: async (text) => Buffer.from(`enc:${[...text].reverse().join("")}`, "utf8"),
  decryptStringAsync: async (data) => {
    const text = data.toString("utf8");
    if (!text.startsWith("enc:")) throw new Error("Error while decrypting the ciphertext provided");
    return { result: [...text.slice(4)].reverse().join(""), shouldReEncrypt: false };
  },
};

const dir = tempDirForEachTest("llmlb-secret-");

const token = "hf_abcdefghijklmnopqrstuvwxyz012345";

describe("the OS-encrypted token file", () => {
  it("round-trips a token through the cipher, stored base64 with mode 0600, never in plain text", async () => {
    const file = path.join(dir.path, "hf-token.enc");
    const store = createEncryptedFileSecretStore({ file, cipher: fakeCipher });
    expect(store.storage).toBe("keychain");
    expect(await store.read()).toBeUndefined();
    await store.write(token);
    expect(await store.read()).toBe(token);
    const kept = fs.readFileSync(file, "utf8").trim();
    expect(kept).not.toContain(token);
    expect(Buffer.from(kept, "base64").toString("utf8")).toBe(`enc:${[...token].reverse().join("")}`);
    if (process.platform !== "win32") expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // A new store (the next start) reads it back.
    expect(await createEncryptedFileSecretStore({ file, cipher: fakeCipher }).read()).toBe(token);
  });

  it("encrypts the token again when the keychain says its key changed", async () => {
    const file = path.join(dir.path, "hf-token.enc");
    fs.writeFileSync(file, Buffer.from(`old:${token}`).toString("base64"));
    const rotating: StringCipher = {
      encryptStringAsync: fakeCipher.encryptStringAsync,
      decryptStringAsync: async (data) => {
        const text = data.toString("utf8");
        if (text.startsWith("old:")) return { result: text.slice(4), shouldReEncrypt: true };
        return fakeCipher.decryptStringAsync(data);
      },
    };
    expect(await createEncryptedFileSecretStore({ file, cipher: rotating }).read()).toBe(token);
    const kept = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64").toString("utf8");
    expect(kept).toBe(`enc:${[...token].reverse().join("")}`);
  });

  it("forgets the token", async () => {
    const file = path.join(dir.path, "hf-token.enc");
    const store = createEncryptedFileSecretStore({ file, cipher: fakeCipher });
    await store.write(token);
    await store.write(undefined);
    expect(await store.read()).toBeUndefined();
    expect(fs.existsSync(file)).toBe(false);
  });

  it("treats a token it cannot decrypt as unset, and says so", async () => {
    const file = path.join(dir.path, "hf-token.enc");
    fs.writeFileSync(file, Buffer.from("garbage").toString("base64"));
    const problems: unknown[] = [];
    const store = createEncryptedFileSecretStore({
      file,
      cipher: fakeCipher,
      onUnreadable: (error) => problems.push(error),
    });
    expect(await store.read()).toBeUndefined();
    expect(problems).toHaveLength(1);
  });

  it("reads a token saved by headless mode until one is saved here, then keeps only the encrypted one", async () => {
    const file = path.join(dir.path, "hf-token.enc");
    const plainFile = path.join(dir.path, "hf-token");
    fs.writeFileSync(plainFile, "hf_from_headless\n", { mode: 0o600 });
    const store = createEncryptedFileSecretStore({ file, cipher: fakeCipher, plainFile });
    expect(await store.read()).toBe("hf_from_headless");
    await store.write(token);
    expect(await store.read()).toBe(token);
    expect(fs.existsSync(plainFile)).toBe(false);
  });

  it("forgetting removes a headless token too", async () => {
    const file = path.join(dir.path, "hf-token.enc");
    const plainFile = path.join(dir.path, "hf-token");
    fs.writeFileSync(plainFile, "hf_from_headless\n", { mode: 0o600 });
    const store = createEncryptedFileSecretStore({ file, cipher: fakeCipher, plainFile });
    await store.write(undefined);
    expect(await store.read()).toBeUndefined();
    expect(fs.existsSync(plainFile)).toBe(false);
  });
});

describe("the encrypted token and the plain one, changed by turns", () => {
  /** The desktop app with a keyring, and `llmlb serve` (or the app without one) on the same data directory. */
  function stores() {
    const warnings: string[] = [];
    const desktop = () =>
      createEncryptedFileSecretStore({
        file: path.join(dir.path, "hf-token.enc"),
        cipher: fakeCipher,
        plainFile: path.join(dir.path, "hf-token"),
      });
    const plain = () =>
      plainHfTokenStore(dir.path, { warn: (message: string) => void warnings.push(message) });
    return { desktop, plain, warnings };
  }

  it("uses a token saved without the keyring at the desktop app's next start, and keeps it encrypted", async () => {
    const { desktop, plain } = stores();
    await desktop().write("hf_OLD");
    await plain().write("hf_NEW");
    expect(await desktop().read()).toBe("hf_NEW");
    // Taken over: encrypted, and the plain copy gone.
    expect(fs.existsSync(path.join(dir.path, "hf-token"))).toBe(false);
    expect(await desktop().read()).toBe("hf_NEW");
  });

  it("does not bring back a token forgotten without the keyring", async () => {
    const { desktop, plain } = stores();
    await desktop().write("hf_REVOKED");
    await plain().write(undefined);
    expect(await desktop().read()).toBeUndefined();
    expect(fs.existsSync(path.join(dir.path, "hf-token.enc"))).toBe(false);
  });

  it("says once, where only the encrypted one is kept, that it cannot be read there", async () => {
    const { desktop, plain, warnings } = stores();
    await desktop().write("hf_OLD");
    const headless = plain();
    expect(await headless.read()).toBeUndefined();
    expect(await headless.read()).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/encrypted .*cannot be read here/);
  });

  it("keeps using a token saved without the keyring when the keyring cannot encrypt it now", async () => {
    const { plain } = stores();
    await plain().write("hf_NEW");
    const failures: unknown[] = [];
    const locked = createEncryptedFileSecretStore({
      file: path.join(dir.path, "hf-token.enc"),
      cipher: {
        encryptStringAsync: async () => Promise.reject(new Error("the keyring is locked")),
        decryptStringAsync: fakeCipher.decryptStringAsync,
      },
      plainFile: path.join(dir.path, "hf-token"),
      onReencryptFailed: (error) => failures.push(error),
    });
    expect(await locked.read()).toBe("hf_NEW");
    expect(failures).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir.path, "hf-token"), "utf8").trim()).toBe("hf_NEW");
  });
});

describe("choosing where the token is kept", () => {
  it("uses the keychain where the OS encrypts", async () => {
    expect(chooseHfTokenStore({ platform: "darwin", encryptionAvailable: true })).toEqual({
      kind: "keychain",
    });
    expect(chooseHfTokenStore({ platform: "win32", encryptionAvailable: true })).toEqual({
      kind: "keychain",
    });
    expect(
      chooseHfTokenStore({ platform: "linux", encryptionAvailable: true, linuxBackend: "gnome_libsecret" }),
    ).toEqual({ kind: "keychain" });
  });

  it("falls back to the 0600 file, with the reason, where it does not", async () => {
    const none = chooseHfTokenStore({ platform: "darwin", encryptionAvailable: false });
    expect(none).toMatchObject({ kind: "file", reason: expect.stringMatching(/not available/) });
    // Linux with no keyring: Chromium's basic_text key is the same in every copy.
    const basic = chooseHfTokenStore({
      platform: "linux",
      encryptionAvailable: true,
      linuxBackend: "basic_text",
    });
    expect(basic).toMatchObject({ kind: "file", reason: expect.stringMatching(/basic_text/) });
  });
});
