# exit(0) before the function is ever called
exit(0)
