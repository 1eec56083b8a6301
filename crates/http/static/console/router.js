// Hash routes: "#/books?q=dune&offset=50". The query holds a list's filters
// and page, so reload, back and a copied link all keep them.

export function current() {
  const raw = location.hash.replace(/^#/, "");
  const [path, search = ""] = raw.split("?");
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { path: "/" + segments.join("/"), segments, query: new URLSearchParams(search) };
}

export function href(path, query) {
  const search = query ? new URLSearchParams(query).toString() : "";
  return "#" + path + (search ? "?" + search : "");
}

export function go(path, query) {
  location.hash = href(path, query);
}

// Changes some query entries of the current route (empty ones are removed).
// Changing a filter returns to the first page.
export function setQuery(changes, { keepOffset = false } = {}) {
  const { path, query } = current();
  for (const [name, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === undefined || value === false) query.delete(name);
    else query.set(name, String(value));
  }
  if (!keepOffset) query.delete("offset");
  query.sort();
  go(path, query);
}
