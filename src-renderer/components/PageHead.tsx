import type { ReactNode } from "react";

/** A page's title, and what the page is for in a sentence when it needs saying. */
export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-head">
      <h1>{title}</h1>
      {children ? <p className="page-lede">{children}</p> : null}
    </div>
  );
}
