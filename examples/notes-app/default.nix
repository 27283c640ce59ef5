# notes-app as a package: `pkgs.callPackage ./examples/notes-app { }`.
#
#   bin/notes-app                   the HTTP app (Python 3 standard library, psql)
#   share/notes-app/schema.sql      its database schema (services-ts's notes-app
#                                   service applies it when it creates the database)
{ runCommand, writeShellApplication, python3, postgresql }:
let
  app = writeShellApplication {
    name = "notes-app";
    runtimeInputs = [ python3 postgresql ];
    text = ''
      exec python3 ${./notes_app.py} "$@"
    '';
  };
in
runCommand "notes-app" { meta.mainProgram = "notes-app"; } ''
  mkdir -p "$out/bin" "$out/share/notes-app"
  ln -s ${app}/bin/notes-app "$out/bin/notes-app"
  cp ${./schema.sql} "$out/share/notes-app/schema.sql"
''
