// The page's language, as its <html lang=...> declares it.
() => document.documentElement.lang
