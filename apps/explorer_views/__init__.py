"""The Explorer's pages. Each page module has ``render(data: DataRoot)``; they only read what the
library wrote under the data root and call the library, never the reverse."""
