// localcos console (filled in by the console work)
