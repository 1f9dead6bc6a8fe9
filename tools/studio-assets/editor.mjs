// The studio's editor: CodeMirror 6 with YAML highlighting and located diagnostics.
// Bundled once into src/telcoflow/studio/static/editor.js (see build.sh); users never build it.
import { basicSetup, EditorView } from "codemirror";
import { yaml } from "@codemirror/lang-yaml";
import { setDiagnostics, lintGutter } from "@codemirror/lint";

export function createEditor(parent, text, onChange) {
  const view = new EditorView({
    doc: text,
    parent,
    extensions: [
      basicSetup,
      yaml(),
      lintGutter(),
      EditorView.theme({
        "&": { height: "100%", fontSize: "13px" },
        ".cm-scroller": { fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace" },
      }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
      }),
    ],
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText: (value) =>
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } }),
    // problems: [{line, col, level, message}] with 1-based line and column
    showProblems(problems) {
      const doc = view.state.doc;
      const diagnostics = problems.map((p) => {
        const line = doc.line(Math.min(Math.max(p.line || 1, 1), doc.lines));
        const from = Math.min(line.from + Math.max((p.col || 1) - 1, 0), line.to);
        const to = from < line.to ? line.to : from;
        return {
          from,
          to,
          severity: p.level === "error" ? "error" : p.level === "warning" ? "warning" : "info",
          message: `${p.line}:${p.col} [${p.level}] ${p.message}`,
        };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    // Move the caret to a 1-based line (and column) and scroll it into view.
    goTo(lineNo, col) {
      const doc = view.state.doc;
      const line = doc.line(Math.min(Math.max(lineNo, 1), doc.lines));
      const pos = Math.min(line.from + Math.max((col || 1) - 1, 0), line.to);
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    },
  };
}
