"""Jobs: paid edits and their confirmation, job cards, delivery of results, `/kling jobs`."""
