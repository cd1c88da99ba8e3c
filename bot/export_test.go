package bot

// ConnectionErrorAttrs exposes connectionErrorAttrs to the tests.
var ConnectionErrorAttrs = connectionErrorAttrs
