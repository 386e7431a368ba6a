"""One module per thesis table: each computes our rows and prints them beside the thesis'."""
