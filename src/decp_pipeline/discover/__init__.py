"""`decp sources discover`: the DECP datasets of data.gouv.fr that no source of sources.yaml covers.

search.py asks the API and tells the DECP datasets from the others, and which source covers each; append.py
appends the new ones to a sources.yaml as disabled sources; settings.py checks the `discover:` section;
merge.py adds the found datasets to a run of `decp fetch` / `decp build` when `discover.include` is true.
"""
