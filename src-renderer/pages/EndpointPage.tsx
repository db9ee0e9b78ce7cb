import { useId, useState } from "react";
import { CopyButton } from "../components/CopyButton";
import { ReadyModelSelect } from "../components/ReadyModelSelect";
import { useAppStore } from "../useAppStore";
import { PageHead } from "../components/PageHead";

/** What a user pastes into a shell: the string in single quotes, each `'` closed, escaped and reopened. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The environment variable the snippets read an API key from, when /v1 needs one. */
const KEY_VARIABLE = "LLMLB_API_KEY";

export function curlSnippet(baseUrl: string, model: string, keyRequired = false): string {
  const body = [
    "{",
    `  "model": ${JSON.stringify(model)},`,
    `  "messages": [{"role": "user", "content": "Say hello in five words."}]`,
    "}",
  ].join("\n");
  return [
    `curl ${baseUrl}/chat/completions \\`,
    `  -H "Content-Type: application/json" \\`,
    ...(keyRequired ? [`  -H "Authorization: Bearer $${KEY_VARIABLE}" \\`] : []),
    `  -d ${shellQuote(body)}`,
  ].join("\n");
}

export function pythonSnippet(baseUrl: string, model: string, keyRequired = false): string {
  // JSON string literals are valid Python string literals.
  const client = keyRequired
    ? `import os

from openai import OpenAI

client = OpenAI(base_url=${JSON.stringify(baseUrl)}, api_key=os.environ["${KEY_VARIABLE}"])`
    : `from openai import OpenAI

# Any api_key works: this server needs none.
client = OpenAI(base_url=${JSON.stringify(baseUrl)}, api_key="llmlb")`;
  return `${client}

response = client.chat.completions.create(
    model=${JSON.stringify(model)},
    messages=[{"role": "user", "content": "Say hello in five words."}],
)
print(response.choices[0].message.content)`;
}

const PLACEHOLDER = "<model id>";

/** What /v1 answers, as the README lists it; the API each belongs to shows on hover. */
const routes = [
  { route: "POST /v1/chat/completions", api: "OpenAI Chat Completions" },
  { route: "POST /v1/completions", api: "OpenAI Completions" },
  { route: "POST /v1/embeddings", api: "OpenAI Embeddings" },
  { route: "POST /v1/responses", api: "OpenAI Responses (the Agents SDK, Codex)" },
  { route: "POST /v1/messages", api: "Anthropic Messages (Claude Code, the Anthropic SDKs)" },
  { route: "POST /v1/messages/count_tokens", api: "Anthropic token counting" },
  { route: "POST /v1/rerank", api: "Reranking, as llama-server answers it" },
  {
    route: "GET /v1/models",
    api: "The models served, in OpenAI's shape (Anthropic's with anthropic-version)",
  },
];

export function EndpointPage() {
  const models = useAppStore((s) => s.models);
  const paused = useAppStore((s) => s.paused);
  const keyRequired = useAppStore((s) => s.status?.api_key_required ?? false);
  const baseUrl = `${location.origin}/v1`;
  const ready = models.filter((m) => m.ready);
  const [picked, setPicked] = useState<string | undefined>(undefined);
  // The pick survives the list changing; when its model stops being ready, the first ready one stands in.
  const model = ready.find((m) => m.name === picked)?.name ?? ready[0]?.name;
  const selectId = useId();

  return (
    <div className="page">
      <PageHead title="Endpoint">
        An OpenAI-compatible API: point any OpenAI client, editor or agent at this base URL.
      </PageHead>

      <section className="card endpoint-card" aria-labelledby="base-url-heading">
        <h2 id="base-url-heading" className="card-title">
          Base URL
        </h2>
        <div className="copy-field">
          <code className="copy-field-text" data-testid="base-url">
            {baseUrl}
          </code>
          <CopyButton text={baseUrl} label="Copy base URL" />
        </div>
        {paused && <p className="state-text warn">Serving is paused: requests get 503 until you resume.</p>}
        {keyRequired && (
          <p className="state-text">
            This server needs an API key: clients send <code>Authorization: Bearer &lt;key&gt;</code> (the
            snippets read it from <code>{KEY_VARIABLE}</code>).
          </p>
        )}
        <ul className="routes" aria-label="Routes">
          {routes.map(({ route, api }) => (
            <li key={route} title={api}>
              <code>{route}</code>
            </li>
          ))}
        </ul>
        <p className="state-text">
          Claude Code and the Anthropic SDKs call <code>/v1/messages</code>: give them{" "}
          <code>ANTHROPIC_BASE_URL={location.origin}</code>, without <code>/v1</code>. The OpenAI Agents SDK
          and Codex call <code>/v1/responses</code> at the base URL above.
        </p>
      </section>

      <section className="section" aria-labelledby="snippets-heading">
        <div className="list-head">
          <h2 id="snippets-heading" className="section-title">
            Try it
          </h2>
          {ready.length > 0 && (
            <ReadyModelSelect id={selectId} models={ready} value={model} onChange={setPicked} />
          )}
        </div>
        {ready.length === 0 && (
          <p className="card note">
            No model is ready yet. Register one on <a href="#/models">Models</a>; once a node has downloaded
            it, its id appears here. Until then the snippets use <code>{PLACEHOLDER}</code>.
          </p>
        )}
        <Snippet title="curl" code={curlSnippet(baseUrl, model ?? PLACEHOLDER, keyRequired)} />
        <Snippet title="Python (openai)" code={pythonSnippet(baseUrl, model ?? PLACEHOLDER, keyRequired)} />
      </section>
    </div>
  );
}

function Snippet({ title, code }: { title: string; code: string }) {
  const id = useId();
  return (
    <figure className="snippet" aria-labelledby={id}>
      <figcaption className="snippet-head">
        <span id={id}>{title}</span>
        <CopyButton text={code} label={`Copy ${title} snippet`} />
      </figcaption>
      <pre className="snippet-code">
        <code>{code}</code>
      </pre>
    </figure>
  );
}
