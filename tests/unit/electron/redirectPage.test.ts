import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { writeRedirectPage } from "../../../src-main/electron/redirectPage";
import { tempDirForEachTest } from "../../helpers/tempDir";

describe("the page that opens the dashboard in the browser", () => {
  const dir = tempDirForEachTest("llmlb-redirect-");

  it("sends the browser on to the link, is this user's alone, and takes no markup from the link", () => {
    const url = writeRedirectPage(dir.path, 'http://127.0.0.1:8080/#token=llmlb_a"><script>x</script>');
    const file = fileURLToPath(url);
    expect(path.dirname(file)).toBe(dir.path);
    const page = fs.readFileSync(file, "utf8");
    expect(page).toContain('content="0;url=http://127.0.0.1:8080/#token=llmlb_a&#34;&#62;&#60;script&#62;x');
    expect(page).not.toContain("<script>");
    if (process.platform !== "win32") expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // Written again, the same file holds the new link.
    writeRedirectPage(dir.path, "http://127.0.0.1:9090/#token=llmlb_b");
    expect(fs.readFileSync(file, "utf8")).toContain("url=http://127.0.0.1:9090/#token=llmlb_b");
  });
});
