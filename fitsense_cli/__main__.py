from fitsense_cli.main import main

main()
