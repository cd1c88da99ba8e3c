package picket

// Name is how people know the service behind s ("GuardDuty", "IAM Access
// Analyzer"); a source Picket does not know is named as it is.
func (s Source) Name() string {
	switch s {
	case SourceGuardDuty:
		return "GuardDuty"
	case SourceSecurityHub:
		return "Security Hub"
	case SourceInspector:
		return "Inspector"
	case SourceMacie:
		return "Macie"
	case SourceAccessAnalyzer:
		return "IAM Access Analyzer"
	}
	return string(s)
}
