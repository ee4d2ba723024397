from wizardarena.cli import main

raise SystemExit(main())
