import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules", "out", "dist", "test-results"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src-main/core/**", "src-main/worker/**"],
    rules: { "no-console": "error" },
  },
  {
    files: ["src-renderer/**"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Tests read loosely typed JSON answers; their assertions are the type check.
    files: ["tests/**"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["src-main/core/**", "src-main/worker/**", "src-main/contract/**", "src-main/cli/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "electron", message: "Only src-main/electron may import electron." }] },
      ],
    },
  },
  {
    files: ["src-main/contract/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ regex: "^(?!zod$)[^.]", message: "contract imports nothing but zod." }] },
      ],
    },
  },
);
