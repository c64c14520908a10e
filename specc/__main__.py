from specc.cli import console_main

console_main()
