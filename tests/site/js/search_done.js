// Whether the site's search page has finished: Sphinx titles its results "Search Results" then.
() => {
  const title = document.querySelector("#search-results h2");
  return title && title.textContent.trim() === "Search Results";
}
