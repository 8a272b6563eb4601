"""The web layer: the app factory, access policy, language, security headers, and one
package per audience. Views parse the request, call `survey.core`, and render."""
