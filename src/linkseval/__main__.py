from linkseval.cli import main

raise SystemExit(main())
