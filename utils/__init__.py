"""The library behind the notebooks: distilling santacoder into flan-t5-small, step by step."""
