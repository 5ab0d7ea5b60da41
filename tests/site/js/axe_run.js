// One run of axe-core (loaded into the page beforehand) on the given context and options.
([context, options]) => axe.run(context, options)
