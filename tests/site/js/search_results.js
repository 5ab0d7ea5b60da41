// The search page's result links, without their anchors.
() => [...document.querySelectorAll("#search-results ul.search > li > a")]
  .map((a) => a.href.split("#")[0])
