"""``python -m fleetprompt_host`` runs the CLI."""

from fleetprompt_host.cli.main import main

if __name__ == "__main__":
    main()
