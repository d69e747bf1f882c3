from rara.cli import main

main()
