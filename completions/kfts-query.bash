# bash completion for kfts-query and kfts-index
_kfts_query() {
  local cur prev
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  case $prev in
    --db|--aliases|--svg) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --sort) COMPREPLY=($(compgen -W "relevance date importance" -- "$cur")); return ;;
    --fields) COMPREPLY=($(compgen -W "rank id title url date date_source source topics importance score snippet highlights file line similar" -- "$cur")); return ;;
    -n|--limit|--offset|--importance-weight|--recent|--similar) return ;;
  esac
  case $cur in
    --timeline=*) COMPREPLY=($(compgen -P --timeline= -W "day week month year" -- "${cur#--timeline=}")); return ;;
    -*) COMPREPLY=($(compgen -W "--db --limit --offset --sort --importance-weight --recent --json --jsonl --tsv --fields --count --timeline --timeline= --by-source --svg --facets --collapse --similar --explain --strict --aliases --no-aliases --tokens --query-side --help --version" -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "title: topic: source: date: since: until: importance:" -- "$cur"))
}
complete -o nospace -F _kfts_query kfts-query
